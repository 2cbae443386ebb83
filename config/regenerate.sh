#!/usr/bin/env bash
# Regenerate config/pipeline_pb2.py from config/pipeline.proto.
#
# The generated module is committed, so installing handtrack needs no protoc.
# Run this after every edit of pipeline.proto and commit both files.
#
# protoc comes from a pinned grpcio-tools wheel fetched from PyPI into a
# throwaway folder (nothing is installed): grpcio-tools 1.85.1 bundles protoc
# 35.1, whose Python output requires a protobuf runtime >= 7.35.1, < 8, which
# matches the pinned protobuf==7.36.2. Bump the pin together with protobuf.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
GRPCIO_TOOLS=${GRPCIO_TOOLS:-grpcio-tools==1.85.1}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  -d "$tmp/wheel" "$GRPCIO_TOOLS"
"$PY" -m zipfile -e "$tmp"/wheel/grpcio_tools-*.whl "$tmp/site"
# grpc_tools.protoc only needs its own compiled extension (no grpcio import).
PYTHONPATH="$tmp/site" "$PY" -m grpc_tools.protoc --version
PYTHONPATH="$tmp/site" "$PY" -m grpc_tools.protoc -I. --python_out=. config/pipeline.proto
"$PY" -W error -c "import config.pipeline_pb2 as m; print('regenerated', m.__file__)"

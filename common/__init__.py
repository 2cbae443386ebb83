"""Small pieces every stage shares: user-facing errors, atomic writes, downloads."""

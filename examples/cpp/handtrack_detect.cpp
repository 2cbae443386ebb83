// handtrack_detect: hand detection in C++ with OpenCV's dnn module and model.onnx.
//
// Usage: handtrack_detect MODEL.onnx SOURCE [--score-thresh 0.5] [--iou 0.6]
//                         [--max-det 100] [--input-size 400x300] [--pad-narrower 1]
//                         [--max-frames N]
//   SOURCE: an image file, a video file, or a camera index (0, 1, ...).
//   --input-size: the model's input, PX (square) or WxH (e.g. 400x300);
//   --pad-narrower 1: black side bars on a frame narrower than WxH before the resize,
//   for a model exported with pad_narrower_images. Both are in the export's
//   export_info.json ("input_size" [H, W], "pad_narrower_images"); the defaults are the
//   shipped model's (v5: 400x300, padded).
//
// Prints, per frame:  frame N: K hands
//                     hand SCORE X1 Y1 X2 Y2      (pixels of the frame, 2 decimals)
// the same detections as Python's `detect.Detector(model, format="onnx")`
// (tests/test_cpp_example.py compares them): the same steps in the same order:
//   BGR -> RGB, side bars if padding (ssd/padding.py: the left bar is the narrower
//   half), bilinear resize to the model size, float pixels 0..255 NCHW,
//   network (boxes [1,A,4] normalised ymin,xmin,ymax,xmax; scores [1,A,C]),
//   best class per anchor, cv::dnn::NMSBoxes(iou, max detections), then the
//   score threshold, boxes taken back out of the bars. NMS parameters default to the shipped model's values; the
//   export records its own in export_info.json ("formats" -> "onnx").
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

struct Hand {
  float score;
  float x1, y1, x2, y2;
  int label;  // 1-based label-map id
};

struct Options {
  float score_thresh = 0.5f, iou = 0.6f, nms_score = 1e-8f;
  int max_det = 100, input_width = 400, input_height = 300;
  bool pad_narrower = true;
  long max_frames = -1;
};

static std::vector<Hand> detect(cv::dnn::Net& net, const cv::Mat& bgr, const Options& opt) {
  cv::Mat rgb, resized;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  int left = 0, total = rgb.cols;
  if (opt.pad_narrower) {
    // Round half to even, as Python's round() and tf.round do.
    total = std::max(rgb.cols, int(std::nearbyint(double(rgb.rows) * opt.input_width /
                                                  opt.input_height)));
    left = (total - rgb.cols) / 2;
    if (total != rgb.cols)
      cv::copyMakeBorder(rgb, rgb, 0, 0, left, total - rgb.cols - left, cv::BORDER_CONSTANT,
                         cv::Scalar(0, 0, 0));
  }
  cv::resize(rgb, resized, cv::Size(opt.input_width, opt.input_height), 0, 0, cv::INTER_LINEAR);
  cv::Mat blob = cv::dnn::blobFromImage(resized, 1.0, cv::Size(), cv::Scalar(), false, false,
                                        CV_32F);
  net.setInput(blob, "image");
  std::vector<cv::Mat> outs;
  net.forward(outs, std::vector<cv::String>{"boxes", "scores"});
  const int anchors = outs[0].size[1];
  const int classes = outs[1].size[2];
  const float* boxes = outs[0].ptr<float>();
  const float* scores = outs[1].ptr<float>();
  std::vector<cv::Rect2d> rects(anchors);
  std::vector<float> best(anchors);
  std::vector<int> label(anchors);
  for (int a = 0; a < anchors; ++a) {
    const float* b = boxes + 4 * a;  // ymin, xmin, ymax, xmax
    rects[a] = cv::Rect2d(b[1], b[0], double(b[3]) - b[1], double(b[2]) - b[0]);
    int c_best = 0;
    for (int c = 1; c < classes; ++c)
      if (scores[a * classes + c] > scores[a * classes + c_best]) c_best = c;
    best[a] = scores[a * classes + c_best];
    label[a] = c_best + 1;
  }
  std::vector<int> keep;
  cv::dnn::NMSBoxes(rects, best, opt.nms_score, opt.iou, keep, 1.f, opt.max_det);
  std::vector<Hand> hands;
  const float w = float(bgr.cols), h = float(bgr.rows);
  auto column = [&](float x) { return std::clamp(x * float(total) - float(left), 0.f, w); };
  for (size_t i = 0; i < keep.size() && int(i) < opt.max_det; ++i) {
    const int a = keep[i];
    if (best[a] < opt.score_thresh) continue;
    const float* b = boxes + 4 * a;
    hands.push_back({best[a], column(b[1]), b[0] * h, column(b[3]), b[2] * h, label[a]});
  }
  return hands;
}

static bool is_index(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: handtrack_detect MODEL.onnx IMAGE|VIDEO|CAMERA [--score-thresh S] "
                 "[--iou T] [--max-det N] [--input-size PX|WxH] [--pad-narrower 0|1] "
                 "[--max-frames N]\n";
    return 2;
  }
  Options opt;
  for (int i = 3; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "error: " << flag << " needs a value\n";
      return 2;
    }
    const char* v = argv[++i];
    if (flag == "--score-thresh") opt.score_thresh = std::strtof(v, nullptr);
    else if (flag == "--iou") opt.iou = std::strtof(v, nullptr);
    else if (flag == "--max-det") opt.max_det = std::atoi(v);
    else if (flag == "--input-size") {
      int w = 0, h = 0;
      const int n = std::sscanf(v, "%dx%d", &w, &h);
      if (n == 1) h = w;
      if (n < 1 || w < 1 || h < 1) {
        std::cerr << "error: --input-size wants PX or WxH, got " << v << "\n";
        return 2;
      }
      opt.input_width = w;
      opt.input_height = h;
    } else if (flag == "--pad-narrower") opt.pad_narrower = std::atoi(v) != 0;
    else if (flag == "--max-frames") opt.max_frames = std::atol(v);
    else {
      std::cerr << "error: unknown flag " << flag << "\n";
      return 2;
    }
  }
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(argv[1]);
  } catch (const cv::Exception& e) {
    std::cerr << "error: cannot load " << argv[1] << ": " << e.what() << "\n";
    return 2;
  }
  const std::string source = argv[2];
  cv::Mat image = is_index(source) ? cv::Mat() : cv::imread(source, cv::IMREAD_COLOR);
  cv::VideoCapture cap;
  if (image.empty()) {
    if (is_index(source)) cap.open(std::atoi(source.c_str()));
    else cap.open(source);
    if (!cap.isOpened()) {
      std::cerr << "error: cannot open " << source << " as an image, video or camera\n";
      return 2;
    }
  }
  for (long frame = 0; opt.max_frames < 0 || frame < opt.max_frames; ++frame) {
    cv::Mat bgr;
    if (!image.empty()) {
      if (frame > 0) break;
      bgr = image;
    } else if (!cap.read(bgr) || bgr.empty()) {
      break;
    }
    std::vector<Hand> hands = detect(net, bgr, opt);
    std::printf("frame %ld: %zu hands\n", frame, hands.size());
    for (const Hand& h : hands)
      std::printf("hand %.4f %.2f %.2f %.2f %.2f\n", h.score, h.x1, h.y1, h.x2, h.y2);
    std::fflush(stdout);
  }
  return 0;
}

// OpenCV's own reference timing for the two detectors snowlight runs, on the same frames: YuNet through
// cv::FaceDetectorYN (OpenCV's implementation of the pre- and post-processing snowlight does in Go) and
// YOLOX-nano through cv::dnn with the same letterbox, decode and NMS. Built and run by detectbench.
//
// usage: reference YUNET.onnx YOLOX.onnx ROUNDS THREADS FRAME.png...
// Each round runs YuNet over every frame, then YOLOX over every frame, charging each the process CPU time
// (getrusage) and the wall time. Prints one JSON object: per-frame milliseconds (median over rounds) and
// what was found, for a sanity check against the Go side.
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <sys/resource.h>

static double median(std::vector<double> v) {
	std::sort(v.begin(), v.end());
	return v.empty() ? 0 : v[v.size() / 2];
}

static double ms_since(std::chrono::steady_clock::time_point t0) {
	return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

static double cpu_ms() {
	rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int yolox_persons(cv::dnn::Net& net, const cv::Mat& img) {
	const int size = 416;
	double r = std::min(double(size) / img.rows, double(size) / img.cols);
	int w = std::max(1, int(img.cols * r)), h = std::max(1, int(img.rows * r));
	cv::Mat canvas(size, size, CV_8UC3, cv::Scalar(114, 114, 114));
	cv::Mat roi = canvas(cv::Rect(0, 0, w, h));
	cv::resize(img, roi, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
	cv::Mat blob = cv::dnn::blobFromImage(canvas, 1.0, cv::Size(size, size), cv::Scalar(), false, false);
	net.setInput(blob, "images");
	cv::Mat out = net.forward("output");
	const float* d = out.ptr<float>();
	std::vector<cv::Rect> boxes;
	std::vector<float> scores;
	int row = 0;
	for (int stride : {8, 16, 32}) {
		int n = size / stride;
		for (int gy = 0; gy < n; gy++) {
			for (int gx = 0; gx < n; gx++, row++) {
				const float* p = d + row * 85;
				float score = p[4] * p[5];
				if (score < 0.3f) continue;
				float cx = (p[0] + gx) * stride, cy = (p[1] + gy) * stride;
				float bw = std::exp(p[2]) * stride, bh = std::exp(p[3]) * stride;
				boxes.emplace_back(int((cx - bw / 2) / r), int((cy - bh / 2) / r), int(bw / r), int(bh / r));
				scores.push_back(score);
			}
		}
	}
	std::vector<int> keep;
	cv::dnn::NMSBoxes(boxes, scores, 0.3f, 0.45f, keep);
	return int(keep.size());
}

int main(int argc, char** argv) {
	if (argc < 6) {
		std::fprintf(stderr, "usage: %s YUNET.onnx YOLOX.onnx ROUNDS THREADS FRAME.png...\n", argv[0]);
		return 2;
	}
	int rounds = std::atoi(argv[3]);
	cv::setNumThreads(std::atoi(argv[4]));
	std::vector<cv::Mat> frames;
	for (int i = 5; i < argc; i++) {
		cv::Mat m = cv::imread(argv[i], cv::IMREAD_COLOR);
		if (m.empty()) {
			std::fprintf(stderr, "cannot read %s\n", argv[i]);
			return 1;
		}
		frames.push_back(m);
	}
	cv::Ptr<cv::FaceDetectorYN> yn = cv::FaceDetectorYN::create(argv[1], "", frames[0].size(), 0.7f, 0.3f, 5000);
	cv::dnn::Net yolox = cv::dnn::readNetFromONNX(argv[2]);

	std::vector<double> ync, ynw, yxc, yxw;
	long faces = 0, persons = 0;
	cv::Mat out;
	const double n = double(frames.size());
	for (int r = -1; r < rounds; r++) { // round -1 warms up
		double c0 = cpu_ms();
		auto t0 = std::chrono::steady_clock::now();
		long f1 = 0, p1 = 0;
		for (const cv::Mat& f : frames) {
			yn->setInputSize(f.size());
			yn->detect(f, out);
			f1 += out.rows;
		}
		double c1 = cpu_ms(), w1 = ms_since(t0);
		t0 = std::chrono::steady_clock::now();
		for (const cv::Mat& f : frames) {
			p1 += yolox_persons(yolox, f);
		}
		double c2 = cpu_ms(), w2 = ms_since(t0);
		if (r >= 0) {
			ync.push_back((c1 - c0) / n);
			ynw.push_back(w1 / n);
			yxc.push_back((c2 - c1) / n);
			yxw.push_back(w2 / n);
			faces += f1;
			persons += p1;
		}
	}
	std::printf("{\"yunet_cpu_ms\": %.3f, \"yunet_wall_ms\": %.3f, \"yolox_cpu_ms\": %.3f, \"yolox_wall_ms\": %.3f, "
		"\"faces\": %ld, \"persons\": %ld, \"threads\": %d}\n",
		median(ync), median(ynw), median(yxc), median(yxw), faces, persons, cv::getNumThreads());
	return 0;
}

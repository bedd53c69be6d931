#include <opencv2/core/utility.hpp>
#include <opencv2/objdetect.hpp>
#include <vector>

#include "classic.h"

void* sl_hog_new(void) {
	auto* h = new cv::HOGDescriptor();
	h->setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
	return h;
}

void sl_hog_free(void* hog) { delete static_cast<cv::HOGDescriptor*>(hog); }

int sl_hog_detect(void* hog, void* m, double hit_threshold, int win_stride, double scale, sl_det* out, int max) {
	try {
		std::vector<cv::Rect> rects;
		std::vector<double> weights;
		static_cast<cv::HOGDescriptor*>(hog)->detectMultiScale(*static_cast<cv::Mat*>(m), rects, weights,
			hit_threshold, cv::Size(win_stride, win_stride), cv::Size(0, 0), scale, 2.0, false);
		for (size_t i = 0; i < rects.size() && (int)i < max; i++) {
			out[i] = sl_det{rects[i].x, rects[i].y, rects[i].width, rects[i].height,
				i < weights.size() ? weights[i] : 0};
		}
		return (int)rects.size();
	} catch (...) {
		return -1;
	}
}

void* sl_cascade_new(const char* path) {
	auto* c = new cv::CascadeClassifier();
	if (!c->load(path)) {
		delete c;
		return nullptr;
	}
	return c;
}

void sl_cascade_free(void* c) { delete static_cast<cv::CascadeClassifier*>(c); }

int sl_cascade_detect(void* c, void* m, double scale, int min_neighbors, int min_size, sl_det* out, int max) {
	try {
		std::vector<cv::Rect> rects;
		std::vector<int> neighbours;
		static_cast<cv::CascadeClassifier*>(c)->detectMultiScale(*static_cast<cv::Mat*>(m), rects, neighbours,
			scale, min_neighbors, 0, cv::Size(min_size, min_size));
		for (size_t i = 0; i < rects.size() && (int)i < max; i++) {
			out[i] = sl_det{rects[i].x, rects[i].y, rects[i].width, rects[i].height,
				i < neighbours.size() ? (double)neighbours[i] : 0};
		}
		return (int)rects.size();
	} catch (...) {
		return -1;
	}
}

int sl_set_num_threads(int n) {
	int old = cv::getNumThreads();
	cv::setNumThreads(n);
	return old;
}

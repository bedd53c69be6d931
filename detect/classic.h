// A small C interface to the classical OpenCV detectors that gocv v0.31 wraps without their scores:
// HOG people detection with SVM weights and cascade detection with neighbour counts.
#ifndef SNOWLIGHT_DETECT_CLASSIC_H
#define SNOWLIGHT_DETECT_CLASSIC_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	int x, y, w, h;
	double score;
} sl_det;

void* sl_hog_new(void);
void sl_hog_free(void* hog);
// Runs HOG people detection on the BGR or grey cv::Mat m; writes up to max detections into out and returns
// how many were found (which may exceed max), or -1 when OpenCV threw.
int sl_hog_detect(void* hog, void* m, double hit_threshold, int win_stride, double scale, sl_det* out, int max);

void* sl_cascade_new(const char* path);  // NULL when the file does not load
void sl_cascade_free(void* c);
// Runs the cascade on the grey cv::Mat m; score is the number of neighbouring raw detections merged.
int sl_cascade_detect(void* c, void* m, double scale, int min_neighbors, int min_size, sl_det* out, int max);

// OpenCV's worker-thread count for parallel regions (DNN layers, resizes): sets it and returns the old one.
int sl_set_num_threads(int n);

#ifdef __cplusplus
}
#endif
#endif

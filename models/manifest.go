// Package models names the neural-network weights snowlight runs, where they come from, under which terms,
// and verifies that the bytes found on disk are exactly those bytes before anything executes them.
//
// Weights are data, never part of the repository: a user gets them with `make models` (or `snowlight models
// fetch`), tests and CI read them from ../shared/models, and a deployment points --models or
// SNOWLIGHT_MODELS at its own copy.
package models

// Name identifies one model of the manifest.
type Name string

// The models the perception stage uses.
const (
	FaceDetector   Name = "face_detection_yunet_2022mar"
	PersonDetector Name = "person_detection_yolox_nano_416"
	FaceEmbedder   Name = "face_recognition_mobilefacenet_foamliu"
	PersonReID     Name = "person_reid_osnet_x0_25_msmt17"
)

// Input describes the tensor a model expects, so the code that feeds it and the manifest a reviewer reads
// say the same thing.
type Input struct {
	Name          string  // the graph's input name
	Width, Height int     // 0 means the model takes the frame's own size
	Channels      string  // channel order the network was trained with: "BGR" or "RGB"
	Scale         float64 // multiply raw 0..255 pixels by this ...
	Mean          [3]float64
	Std           [3]float64 // ... subtract Mean and divide by Std (per channel, in Channels order); zero Std means 1
	Layout        string     // memory layout, always "NCHW" for these
	BatchOne      bool       // OpenCV 4.6 gives wrong results for batches larger than one
	// Resizable: the graph records a fixed height and width (YuNet 120x160, YOLOX 416x416) but the network
	// is fully convolutional and runs at any size; ONNX Runtime needs the graph edited (FreeSize) first.
	Resizable bool
}

// Model is one entry of the manifest.
type Model struct {
	Name   Name
	File   string // file name inside the models directory
	SHA256 string // hex digest of the exact bytes
	Size   int64  // bytes, so a truncated download is reported as such

	What      string
	Source    string // repository @ commit : path, as a human reads it
	URL       string // where `snowlight models fetch` downloads it from
	Licence   string // code/weights licence
	DataTerms string // terms of the training data, which bind use beyond the code licence
	Input     Input
	Output    string
	// Outputs are the graph's output names, in the order the code reads them.
	Outputs []string
}

// Manifest lists every model snowlight knows, in a fixed order.
func Manifest() []Model {
	return []Model{
		{
			Name:    FaceDetector,
			File:    "face_detection_yunet_2022mar.onnx",
			SHA256:  "50ef07f702a31741ca46a4c0d947773b64143b9362780237bf0d427d6c79bab7",
			Size:    345478,
			What:    "YuNet face detector: boxes and 5 landmarks",
			Source:  "ShiqiYu/libfacedetection.train @ 1688402d : tasks/task1/onnx/yunet_120x160.onnx (byte-identical to OpenCV Zoo face_detection_yunet_2022mar.onnx)",
			URL:     "https://github.com/ShiqiYu/libfacedetection.train/raw/1688402dbd9b9fc4a3a6793810f558b7407ff384/tasks/task1/onnx/yunet_120x160.onnx",
			Licence: "MIT",
			DataTerms: "trained on WIDER FACE (images from the web, research use); " +
				"no further data terms stated by the authors",
			Input:   Input{Name: "input", Channels: "BGR", Scale: 1, Layout: "NCHW", BatchOne: true, Resizable: true},
			Outputs: []string{"loc", "conf", "iou"},
			Output: "loc [N,14], conf [N,2], iou [N,1] over fixed priors; decoded in Go " +
				"(score = sqrt(conf1*iou), height variance 0.2)",
		},
		{
			Name:      PersonDetector,
			File:      "person_detection_yolox_nano_416.onnx",
			SHA256:    "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14",
			Size:      3660092,
			What:      "YOLOX-nano object detector, COCO 80 classes; class 0 (person) is used",
			Source:    "Kazuhito00/YOLOX-ONNX-TFLite-Sample @ 0f785c07 : model/yolox_nano.onnx (weights equal to Megvii's official yolox_nano)",
			URL:       "https://github.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample/raw/0f785c070ce8da070aeaeef46c0da7904ff7012e/model/yolox_nano.onnx",
			Licence:   "Apache-2.0",
			DataTerms: "trained on COCO (CC BY 4.0 annotations; images under their Flickr licences)",
			Input: Input{Name: "images", Width: 416, Height: 416, Channels: "BGR", Scale: 1, Layout: "NCHW",
				BatchOne: true, Resizable: true},
			Outputs: []string{"output"},
			Output:  "output [1,3549,85]: grids 52/26/13 at strides 8/16/32; tx,ty,tw,th,obj,80 class scores",
		},
		{
			Name:    FaceEmbedder,
			File:    "face_recognition_mobilefacenet_foamliu.onnx",
			SHA256:  "501048e4bff096417fd563de3ed9a176c6ff342fb4fb91bab5b10b55e65b51c9",
			Size:    4096676,
			What:    "MobileFaceNet face embedding, 128-d, input aligned to the ArcFace 112x112 template",
			Source:  "Alen-Chen/MobileFaceNet @ 1531ce13 : weights/MobileFaceNet.onnx (opset-10 export of foamliu/MobileFaceNet)",
			URL:     "https://github.com/Alen-Chen/MobileFaceNet/raw/1531ce13642332fa846cdd5a577a23469c8fee8a/weights/MobileFaceNet.onnx",
			Licence: "Apache-2.0",
			DataTerms: "trained on an MS-Celeb-1M derivative: MS-Celeb-1M was withdrawn by Microsoft and its " +
				"images carry no licence for commercial use; check before any commercial deployment",
			Input: Input{Name: "input0", Width: 112, Height: 112, Channels: "RGB", Scale: 1.0 / 255,
				Mean: [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225}, Layout: "NCHW",
				BatchOne: true},
			Output:  "output0 [1,128], not normalised: L2-normalise, compare by cosine",
			Outputs: []string{"output0"},
		},
		{
			Name:    PersonReID,
			File:    "person_reid_osnet_x0_25_msmt17.onnx",
			SHA256:  "dddd73c80b78e24ef982f9c352c1947b42d67433887011e8eb33a00313edef5e",
			Size:    891413,
			What:    "OSNet x0.25 person re-identification, 512-d appearance embedding",
			Source:  "czqosu/person_tracking @ 7963365c : models/osnet_x0_25_msmt17.onnx (torchreid weights)",
			URL:     "https://github.com/czqosu/person_tracking/raw/7963365cb156e8cd669ac377c532a6ebebd3939e/models/osnet_x0_25_msmt17.onnx",
			Licence: "MIT (torchreid code)",
			DataTerms: "trained on MSMT17, whose terms allow non-commercial research use only; " +
				"commercial use needs other weights",
			Input: Input{Name: "input", Width: 128, Height: 256, Channels: "RGB", Scale: 1.0 / 255,
				Mean: [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225}, Layout: "NCHW",
				BatchOne: true},
			Output:  "512 values >= 0: L2-normalise, compare by cosine",
			Outputs: []string{"output"},
		},
	}
}

// Lookup returns the manifest entry of name.
func Lookup(name Name) (Model, bool) {
	for _, m := range Manifest() {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

#!/usr/bin/env bash
# Installs everything `make demo` and `make test` need on a fresh Debian 12 machine (run as root).
# Idempotent: a second run finds everything present and touches no network.
set -euo pipefail

# What each group is for, so nobody removes a package they think is unused.
pkgs=(
  build-essential pkg-config                                  # cgo
  libopencv-dev libopencv-contrib-dev opencv-data opencv-doc  # gocv, cascades, vtest.avi
  ffmpeg libavcodec-dev libavformat-dev libavutil-dev libswscale-dev  # decoder wrapper, test video encoding, peers
  valgrind                                                    # memory checker over the decoder's C code
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools    # GStreamer RTSP server: interop peer camera
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav
  chromium chromium-driver                                    # browser tests
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The MinIO server, built once from source (about 9 minutes on 2 cores) and cached in the Go bin dir.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
gobin=$(go env GOBIN); [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
stamp="$gobin/.minio-$MINIO_VERSION"
if [ ! -x "$gobin/minio" ] || [ ! -f "$stamp" ]; then
  echo "setup: building the MinIO server (once, several minutes)" >&2
  GOFLAGS=-buildvcs=false go install "github.com/minio/minio@$MINIO_VERSION"
  touch "$stamp"
fi

# The NATS server (JetStream) that the distributed mode's tests start on loopback, cached the same way
# (about a minute to build).
NATS_SERVER_VERSION=v2.15.3
stamp="$gobin/.nats-server-$NATS_SERVER_VERSION"
if [ ! -x "$gobin/nats-server" ] || [ ! -f "$stamp" ]; then
  echo "setup: building the NATS server $NATS_SERVER_VERSION (once, about a minute)" >&2
  GOFLAGS=-buildvcs=false go install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
  touch "$stamp"
fi

# ONNX Runtime's CPU library, the default inference engine: the npm package onnxruntime-node ships it
# (bin/napi-v6/linux/<arch>/libonnxruntime.so.1). --ignore-scripts: its install script only fetches GPU
# builds. The product looks here by default (detect/infer.DefaultLibrary); SNOWLIGHT_ONNXRUNTIME or the
# configuration's onnxruntime field point elsewhere.
ORT_VERSION=1.31.1
ort_dir="${XDG_CACHE_HOME:-$HOME/.cache}/snowlight/onnxruntime-$ORT_VERSION"
case "$(uname -m)" in x86_64) ort_arch=x64 ;; aarch64) ort_arch=arm64 ;; *) ort_arch=unsupported ;; esac
ort_lib="$ort_dir/node_modules/onnxruntime-node/bin/napi-v6/linux/$ort_arch/libonnxruntime.so.1"
if [ ! -f "$ort_lib" ]; then
  if ! command -v npm >/dev/null; then  # this machine's Node comes with npm; Debian's is a package of its own
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
  fi
  echo "setup: installing ONNX Runtime $ORT_VERSION (npm onnxruntime-node) into $ort_dir" >&2
  mkdir -p "$ort_dir"
  (cd "$ort_dir" && npm install --ignore-scripts --no-audit --no-fund --silent "onnxruntime-node@$ORT_VERSION")
  [ -f "$ort_lib" ] || { echo "setup: $ort_lib missing after the install" >&2; exit 1; }
fi

# Go modules for the project itself (served from the module cache after the first run).
cd "$(dirname "$0")/.."
if [ -f go.mod ]; then
  go mod download
fi

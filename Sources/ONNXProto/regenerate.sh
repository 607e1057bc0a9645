#!/bin/sh
# Regenerates onnx.pb.swift from onnx.proto (copied from the `onnx` pip package: python3 -c
# "import onnx, os; print(os.path.dirname(onnx.__file__))"/onnx.proto, onnx 1.23.2).
# Needs protoc (apt-get install -y protobuf-compiler) and swift-protobuf's protoc-gen-swift of the
# version Package.swift resolves (swift build -c release --product protoc-gen-swift in a checkout of
# apple/swift-protobuf). CI never runs this: the generated file is committed.
#   PLUGIN=/path/to/protoc-gen-swift Sources/ONNXProto/regenerate.sh
set -eu
cd "$(dirname "$0")"
: "${PLUGIN:=$(command -v protoc-gen-swift)}"
protoc --plugin=protoc-gen-swift="$PLUGIN" --swift_opt=Visibility=Public --swift_out=. onnx.proto
echo "wrote $(pwd)/onnx.pb.swift"

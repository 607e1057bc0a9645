#!/usr/bin/env python3
"""Regenerates the Swift code of TensorBoard's event protos (the *.pb.swift files beside this script).

TensorBoard event files hold `tensorboard.Event` messages (event.proto) carrying `tensorboard.Summary`
(summary.proto). The definitions are taken from the `tensorboard` pip package, which ships them
compiled (tensorboard/compat/proto/*_pb2.py): their FileDescriptorProtos are collected (event.proto,
summary.proto and what they import, nothing else) into a descriptor set that protoc reads in place of
.proto sources, and protoc-gen-swift (apple/swift-protobuf, the version Package.swift names) writes
public Swift types. CI never runs this: the generated files are committed.

    pip install tensorboard && apt-get install -y protobuf-compiler
    # protoc-gen-swift: `swift build -c release --product protoc-gen-swift` in a swift-protobuf checkout
    python3 Sources/TensorBoardProto/make_protos.py --plugin PATH/protoc-gen-swift
"""
import argparse
import os
import subprocess
import tempfile

from google.protobuf import descriptor_pb2
from tensorboard.compat.proto import event_pb2
import tensorboard

HERE = os.path.dirname(os.path.abspath(__file__))


def files_needed(root):
    """The file descriptors of `root` and everything it imports, dependencies first."""
    seen, order = set(), []

    def walk(fd):
        if fd.name in seen:
            return
        seen.add(fd.name)
        for dep in fd.dependencies:
            walk(dep)
        order.append(fd)

    walk(root)
    return order


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--plugin", required=True, help="path of protoc-gen-swift")
    p.add_argument("--protoc", default="protoc")
    a = p.parse_args()

    files = files_needed(event_pb2.DESCRIPTOR)
    descriptor_set = descriptor_pb2.FileDescriptorSet()
    for fd in files:
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        descriptor_set.file.append(proto)
    for old in os.listdir(HERE):
        if old.endswith(".pb.swift"):
            os.remove(os.path.join(HERE, old))
    with tempfile.TemporaryDirectory() as work:
        set_path = os.path.join(work, "tensorboard.pb")
        with open(set_path, "wb") as f:
            f.write(descriptor_set.SerializeToString())
        out = os.path.join(work, "out")
        os.mkdir(out)
        subprocess.run(
            [a.protoc, f"--plugin=protoc-gen-swift={a.plugin}", f"--descriptor_set_in={set_path}",
             "--swift_opt=Visibility=Public", "--swift_opt=FileNaming=DropPath", f"--swift_out={out}"]
            + [fd.name for fd in files],
            check=True)
        for name in sorted(os.listdir(out)):
            with open(os.path.join(out, name)) as f:
                text = f.read()
            header = f"// From tensorboard {tensorboard.__version__} (pip), by Sources/TensorBoardProto/make_protos.py.\n"
            with open(os.path.join(HERE, name), "w") as f:
                f.write(header + text)
            print("wrote", name)


if __name__ == "__main__":
    main()

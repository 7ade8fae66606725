#!/usr/bin/python3
"""The restreaming peer for the bench: GStreamer's RTSP server (Debian gstreamer1.0 +
gir1.2-gst-rtsp-server) pulling H.264 cameras and serving every viewer of a mount from one
pipeline (a shared media factory), the usual way to build a restreamer with it.

Usage: restream-peer.py PORT MOUNT=RTSP_URL [MOUNT=RTSP_URL ...]
  PORT 0 picks a free port. Prints "READY rtsp port=N" once listening on 127.0.0.1.
Each /MOUNT pulls its camera over TCP once (when its first viewer arrives) and re-payloads the
video for every viewer; the pipeline stays up while a viewer is connected.
The bench's viewers send PLAY without a Range: with ffmpeg's "npt=0.000-" this peer seeks the
shared pipeline, and as the bench camera plays a (seekable) file it would PAUSE it and PLAY it
again from the clip's start - restarting every viewer at a keyframe, which a live camera cannot.
"""
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtsp, GstRtspServer  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "agent-src", "test", "fixtures"))
from gst_rtsp_serve import serve  # noqa: E402


def shared_factory(url):
    factory = GstRtspServer.RTSPMediaFactory()
    # latency=0: no jitter-buffer delay of our own on loopback; config-interval=-1 keeps SPS/PPS
    # before every IDR, as the camera sends them.
    factory.set_launch(
        f'( rtspsrc location="{url}" protocols=tcp latency=0 ! rtph264depay ! h264parse ! '
        "rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    factory.set_shared(True)
    # TCP interleaved only, as our streamer's viewers in the bench use.
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    return factory


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(sys.argv[1])
    mounts = server.get_mount_points()
    for spec in sys.argv[2:]:
        mount, _, url = spec.partition("=")
        mounts.add_factory(f"/{mount}", shared_factory(url))
    serve(server, "restream-peer")


if __name__ == "__main__":
    main()

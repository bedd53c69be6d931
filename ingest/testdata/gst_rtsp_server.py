#!/usr/bin/python3
"""A GStreamer RTSP server (GstRtspServer, the server many devices and DeepStream use) serving a live
x264 stream, as an interop peer camera for snowlight's ingest tests.

usage: gst_rtsp_server.py PORT [FILE]

Without FILE it serves videotestsrc; with FILE it decodes the file in a loop into intervideosink and
serves that live (GstRtspServer answers PLAY with 503 for a non-live file source). Prints READY when
it listens; exits when stdin closes, so it never outlives the test that started it.
"""
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

ENCODE = ("x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bframes=0 threads=1 "
          "! video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=1")


def main():
    Gst.init(None)
    port = sys.argv[1]
    source = None
    if len(sys.argv) > 2:
        # The looping file player: decode, pace, hand frames to the live intervideosrc below.
        source = Gst.parse_launch(
            "multifilesrc location=%s loop=true ! decodebin ! videoconvert ! videorate "
            "! video/x-raw,framerate=25/1 ! intervideosink channel=cam sync=true" % sys.argv[2])
        source.set_state(Gst.State.PLAYING)
        launch = "( intervideosrc channel=cam ! video/x-raw,framerate=25/1 ! videoconvert ! %s )" % ENCODE
    else:
        launch = ("( videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=480,framerate=25/1 "
                  "! videoconvert ! %s )" % ENCODE)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/test", factory)
    server.attach(None)
    loop = GLib.MainLoop()

    def watch_stdin():
        sys.stdin.read()
        GLib.idle_add(loop.quit)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print("READY", flush=True)
    loop.run()
    if source is not None:
        source.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main()

"""An RTSP camera for the tests: GStreamer's RTSP server (Debian's gir1.2-gst-rtsp-server-1.0) serving a
generated H.264 stream (a moving ball) at rtsp://127.0.0.1:<port>/live.

Run by Debian's own python3, which has the GObject bindings:  /usr/bin/python3 rtsp_camera.py <port> [fps]
FFmpeg cannot stand in: its RTSP `listen` flag is the demuxer's (it receives a pushed stream), so it serves
no PLAY to a client such as the stream ingest.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, fps = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate={fps}/1 "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(True)  # one encoder for every client, as a camera has
    server.get_mount_points().add_factory("/live", factory)
    server.attach(None)
    print(f"rtsp://127.0.0.1:{port}/live", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()

"""CCTV ingest: HTTP snapshot polls and MJPEG/RTSP streams into frames in the store and events on Kafka."""

"""CCTV: per-camera state for the wall and the police (the analysis processor writes CameraStatus)."""

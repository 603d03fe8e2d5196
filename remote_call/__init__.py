"""What kiosk and console share: the signaling wire protocol and the WebRTC call session."""

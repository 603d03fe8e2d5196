"""Kiosk hardware: camera, microphone/speaker, scanner and receipt printer, each with a simulated driver.

The kiosk uses one entry point, `hardware.devices.KioskDevices.open(config.devices, label)`; see
docs/hardware.md. Modules import their heavy dependencies (aiortc, OpenCV, sounddevice, SANE) themselves,
so importing this package is cheap.
"""

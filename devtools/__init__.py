"""Developer tools: demo sessions, screenshots and test helpers for the kiosk and the console.

Never imported by the product packages (``tests/test_architecture.py`` checks it); tests, benchmarks and the
simulator use them. ``madoguchi-screenshots kiosk|console DIR`` renders every screen of either app to PNG.
"""

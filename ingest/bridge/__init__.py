"""The Bifrost live-log bridge: open-source Bifrost's WebSocket stream -> the log topic."""

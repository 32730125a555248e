"""Input injection backends behind one small interface (`base.InputSink`)."""

"""Screen capture backends behind one small interface (`base.Capture`)."""

"""Host privacy on the office PC (lock when the session ends, curtain while it runs), one backend per platform."""

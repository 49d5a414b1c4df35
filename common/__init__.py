"""Small pieces shared by every package: the bus, clocks, logging set-up."""

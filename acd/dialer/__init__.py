"""The outbound dialer: campaigns' pacing, lead scheduling and compliance.

Pure cores (no clock, no I/O; `now` passed in):
- `pacing`: how many lines to dial now (progressive, ratio, predictive; model in its docstring);
- `abandon`: rolling abandon-rate windows (24 h, 30 days);
- `estimates`: measured live-answer rate, time to answer, talk and wrap-up;
- `windows`: calling windows in the called person's local time (phonenumbers + zoneinfo);
- `dnc`: do-not-call lists, global and per campaign;
- `leads`: lead life cycle (transition table) and retries per outcome;
- `scheduler`: which callbacks and leads to dial now;
- `rules`: a campaign's own window, days, holidays, zone and retry delays over [dialer]'s;
- `free_callbacks`: callbacks of no campaign: which to hand to the ACD, and their rows after
  (its adapter: `free_callbacks_service`).
"""

"""The closed loop: calibrator (gates learn where winners are), regime detector, circuit breaker.

All three are pure: they take outcomes, flips and P&L with their timestamps and
return decisions; the driver feeds them and stores what they decide.
"""

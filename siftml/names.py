"""Names and constants that the web process needs without loading numpy or scikit-learn.

A page or a serializer that only lists the strategies or states the interval level imports
this module; the modules that compute (simulation, intervals) take their names from here.
"""

ADAPTIVE = "adaptive"
STRATEGIES = ("random", "least_confidence", "margin", "entropy", "error", "novelty", "mix", ADAPTIVE)
CONFIDENCE = 0.95  # the level of every interval Sift shows or decides on

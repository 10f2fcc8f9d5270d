"""Sift's machine-learning core: featurizing, training, ranking, mixing, evaluation, simulation.

Only numpy, scipy, scikit-learn, joblib and matplotlib: nothing here imports Django or the apps
(tests/test_ml_core_boundary.py fails if anything does), so every rule can be run and tested on
plain arrays, and the web process loads none of it until a request needs a model.
"""

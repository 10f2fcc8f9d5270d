from django.dispatch import Signal

# Sent inside the transaction that saved new labels, with `project` and `count`.
# learners listens to start a retrain after `retrain_every` new labels; labeling does
# not know about learners.
labels_added = Signal()

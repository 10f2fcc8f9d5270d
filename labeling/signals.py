from django.dispatch import Signal

# Sent inside the transaction that saved new labels, with `project` and `count`.
# learners listens to start a retrain after `retrain_every` new labels; labeling does
# not know about learners.
labels_added = Signal()

# Sent inside the import's transaction with `project` and `batch` (an ImportBatch):
# learners ranks the new items with the active rankers so they compete in the queue at once.
items_imported = Signal()

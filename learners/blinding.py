"""What an annotator may see of the model's and the data's reports: nothing per item.

The evaluation's "items worth reading" are test items with their true labels, its
segments name metadata values of test items (a value held by one item names that item),
and the data-quality lists name each item's split. An annotator who saw any of them could
tell which items are test items, and a test label given knowingly no longer judges the
model fairly; admins see everything. Counts and plots over the whole test set stay.
"""

from labeling.models import Project
from learners import reports
from learners.models import ModelVersion

# The parts of a model's evaluation that name test items or their metadata.
EVALUATION_ITEM_PARTS = ("top", "segments")
# The data-quality report's per-item lists, each emptied for annotators.
QUALITY_ITEM_LISTS = (
    ("exact_duplicates", "shown"),
    ("near_duplicates", "pairs"),
    ("disagreements", "shown"),
    ("suspects", "imported"),
)


def evaluation_for(model_version: ModelVersion, k: int, *, is_admin: bool) -> dict:
    """The stored evaluation; without its per-item lists and segments unless the reader is an admin."""
    data = reports.evaluation_data(model_version, k)
    if not is_admin:
        for part in EVALUATION_ITEM_PARTS:
            data.pop(part, None)
    return data


def quality_for(project: Project, *, is_admin: bool) -> dict:
    """The data-quality report; its per-item lists are empty unless the reader is an admin."""
    report = reports.data_quality(project)
    if is_admin:
        return report
    # A copy: the cached report is shared with the admins' pages.
    blinded = dict(report)
    for section, key in QUALITY_ITEM_LISTS:
        if isinstance(blinded.get(section), dict) and key in blinded[section]:
            blinded[section] = {**blinded[section], key: []}
    return blinded

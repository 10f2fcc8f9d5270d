"""labeling/resolution.py: how one item's annotations resolve into one label (no database)."""

from labeling.resolution import Resolved, Vote, resolve

POS, NEG, NEU = 1, 2, 3


def votes(*specs: tuple) -> list[Vote]:
    """(voter, label) or (voter, label, origin) per annotation, ids 1, 2, 3... in order."""
    result = []
    for n, spec in enumerate(specs, start=1):
        voter, label, origin = (*spec, "human") if len(spec) == 2 else spec
        result.append(Vote(n, voter, label, origin))
    return result


def test_no_annotations_resolve_to_no_label():
    assert resolve([]) == Resolved(None, "", 0, None, ())


def test_one_vote_decides():
    assert resolve(votes(("a", POS))) == Resolved(POS, "human", 1, 1, ("a",))


def test_the_majority_wins():
    resolved = resolve(votes(("a", POS), ("b", NEG), ("c", NEG)))
    assert resolved.label_id == NEG
    assert resolved.label_count == 3
    assert resolved.deciding_id == 3
    assert resolved.voters == ("a", "b", "c")


def test_the_majority_wins_even_when_the_newest_vote_disagrees():
    resolved = resolve(votes(("a", POS), ("b", POS), ("c", NEG)))
    assert (resolved.label_id, resolved.deciding_id) == (POS, 2)


def test_a_tie_goes_to_the_label_voted_most_recently():
    assert resolve(votes(("a", POS), ("b", NEG))).label_id == NEG
    assert resolve(votes(("a", NEG), ("b", POS))).label_id == POS
    three_way = resolve(votes(("a", POS), ("b", NEG), ("c", NEU)))
    assert (three_way.label_id, three_way.deciding_id) == (NEU, 3)


def test_only_each_voters_latest_annotation_counts():
    resolved = resolve(votes(("a", POS), ("a", NEG), ("a", NEG), ("b", POS)))
    # a's two NEG annotations are one vote, so it is one each and b voted last.
    assert resolved.label_id == POS
    assert resolved.label_count == 2


def test_a_correction_replaces_the_voters_earlier_label():
    resolved = resolve(votes(("a", POS), ("a", NEG)))
    assert resolved == Resolved(NEG, "human", 1, 2, ("a",))


def test_an_undo_withdraws_the_vote():
    assert resolve(votes(("a", POS), ("a", None))) == Resolved(None, "", 0, None, ())
    resolved = resolve(votes(("a", POS), ("b", NEG), ("b", None)))
    assert resolved == Resolved(POS, "human", 1, 1, ("a",))


def test_a_vote_after_an_undo_counts_again():
    resolved = resolve(votes(("a", POS), ("a", None), ("a", NEG)))
    assert resolved == Resolved(NEG, "human", 1, 3, ("a",))


def test_voters_are_listed_in_the_order_of_their_latest_vote():
    resolved = resolve(votes(("a", POS), ("b", POS), ("a", POS)))
    assert resolved.voters == ("b", "a")
    assert resolved.deciding_id == 3


def test_an_import_is_one_voter_and_keeps_its_origin():
    resolved = resolve(votes(("import", POS, "import")))
    assert resolved == Resolved(POS, "import", 1, 1, ("import",))
    outvoted = resolve(votes(("import", POS, "import"), ("a", NEG), ("b", NEG)))
    assert (outvoted.label_id, outvoted.origin, outvoted.label_count) == (NEG, "human", 3)


def test_an_adjudication_overrides_the_majority():
    resolved = resolve(votes(("a", POS), ("b", POS), ("admin", NEG, "adjudication")))
    assert resolved.label_id == NEG
    assert resolved.origin == "adjudication"
    assert resolved.deciding_id == 3
    assert resolved.label_count == 2  # the adjudication is not a vote
    assert resolved.voters == ("a", "b")


def test_the_latest_adjudication_wins_and_later_votes_do_not_undo_it():
    resolved = resolve(
        votes(("admin", NEG, "adjudication"), ("admin", POS, "adjudication"), ("a", NEG), ("b", NEG))
    )
    assert (resolved.label_id, resolved.deciding_id) == (POS, 2)


def test_a_withdrawn_adjudication_falls_back_to_the_majority():
    resolved = resolve(votes(("a", POS), ("admin", NEG, "adjudication"), ("admin", None, "adjudication")))
    assert resolved == Resolved(POS, "human", 1, 1, ("a",))

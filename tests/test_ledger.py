"""translator.relay.ledger: what may be acknowledged."""

from translator.relay import ledger


def test_acks_cover_only_fully_confirmed_prefixes():
    book = ledger.Ledger()
    for tag in (1, 2, 3):
        book.open(tag, 'ts%d' % tag)
    book.expect(1, 10, None, 'versioned')
    book.expect(2, 11, None, 'versioned')
    book.expect(2, 12, None, 'versioned')
    # 3 has no output at all (its copy is already in place)
    assert book.completed() == []
    book.settle(12, False)
    assert book.completed() == []  # 1 and 11 still unconfirmed
    book.settle(11, True)  # multiple: 10 and 11
    assert book.completed() == [(1, 'ts1'), (2, 'ts2'), (3, 'ts3')]
    assert len(book) == 0


def test_a_refused_output_redelivers_its_source_once():
    book = ledger.Ledger()
    book.open(1, None)
    book.open(2, None)
    book.expect(1, 10, 'm10', 'versioned')
    book.expect(1, 11, 'm11', 'versioned')
    book.expect(2, 12, None, 'versioned')
    assert book.fail(11, True) == [(1, 'm10'), (None, 'm11')]
    book.settle(12, False)
    assert book.completed() == [(2, None)]

"""The fleet trend's two reads, on PostgreSQL and SQLite: the summaries as a series (numbers read
out of the counts JSON in SQL), and each signup matched to the first successful register call of
its number after it."""

from __future__ import annotations

from datetime import timedelta

from tests.store.helpers import NOW, add_channel
from tests.support.trend_seed import add_attempt, add_signup, summary_counts
from whatsapp.domain.trend import latest_signups, weekly_figures, weeks_back
from whatsapp.store import ChannelStore

HOUR = timedelta(hours=1)


def test_summary_series_reads_the_counts_oldest_first_within_the_bounds(store: ChannelStore) -> None:
    for hours_ago in range(10, 0, -1):  # ten hourly summaries, the newest 1 h ago
        store.fleet.save_summary(summary_counts(20, hours_ago, 20 - hours_ago), now=NOW - hours_ago * HOUR)
    store.fleet.save_summary({"channels": 3}, now=NOW - 30 * 24 * HOUR)  # an old shape, outside

    points, _ = store.fleet.trend(since=NOW - 5.5 * HOUR, limit=100, registered_since=NOW, now=NOW)
    assert [(p.created_at, p.total, p.needs_action, p.healthy) for p in points] == [
        (NOW - h * HOUR, 20, h, 20 - h) for h in (5, 4, 3, 2, 1)
    ]
    # The limit keeps the newest.
    points, _ = store.fleet.trend(since=NOW - 24 * HOUR, limit=3, registered_since=NOW, now=NOW)
    assert [p.needs_action for p in points] == [3, 2, 1]
    # A summary without the numbers reads as unknown, not as zero.
    points, _ = store.fleet.trend(since=NOW - 31 * 24 * HOUR, limit=1000, registered_since=NOW, now=NOW)
    assert (points[0].total, points[0].needs_action, points[0].healthy) == (3, None, None)


def test_signups_meet_their_first_registration_after_them(store: ChannelStore) -> None:
    ones = {n: add_channel(store, n).id for n in range(1, 8)}
    phone = {n: f"10654035224{n:04d}" for n in ones}
    since = NOW - 7 * 24 * HOUR
    # 1: signed up, two failed calls, registered 5 h later, re-registered later (a name change).
    add_signup(store, "s1", NOW - 10 * HOUR, phone[1])
    add_attempt(store, ones[1], NOW - 8 * HOUR, "display_name_not_ready")
    add_attempt(store, ones[1], NOW - 5 * HOUR)
    add_attempt(store, ones[1], NOW - 2 * HOUR)
    # 2: the intake did not know the number; the code's exchange did. Registered 3 h later.
    add_signup(store, "s2", NOW - 6 * HOUR, None, exchanged_phone=phone[2])
    add_attempt(store, ones[2], NOW - 3 * HOUR)
    # 3: signed up twice before its registration: both rows come, the later one is kept.
    add_signup(store, "s3", NOW - 40 * HOUR, phone[3])
    add_signup(store, "s30", NOW - 4 * HOUR, phone[3])
    add_attempt(store, ones[3], NOW - HOUR)
    # 4: registered before the range: not there (nor its re-registration inside the range).
    add_signup(store, "s4", since - 3 * HOUR, phone[4])
    add_attempt(store, ones[4], since - HOUR)
    add_attempt(store, ones[4], NOW - HOUR)
    # 5: a registration without an intake signup (a raw conf); 6: a signup never registered.
    add_attempt(store, ones[5], NOW - HOUR)
    add_signup(store, "s6", NOW - HOUR, phone[6])
    # 7: a call after the range's end is not there yet.
    add_signup(store, "s7", NOW - HOUR, phone[7])
    add_attempt(store, ones[7], NOW + HOUR)
    # A WhatsApp Business app number: signed up, never sent /register.
    app = add_channel(store, 9, on_business_app=True)
    add_signup(store, "s9", NOW - 2 * HOUR, app.phone_number_id)

    _, rows = store.fleet.trend(since=NOW, limit=1, registered_since=since, now=NOW)
    found = sorted((row.channel_id, row.signed_up_at, row.registered_at) for row in rows)
    assert found == sorted(
        [
            (ones[1], NOW - 10 * HOUR, NOW - 5 * HOUR),
            (ones[2], NOW - 6 * HOUR, NOW - 3 * HOUR),
            (ones[3], NOW - 40 * HOUR, NOW - HOUR),
            (ones[3], NOW - 4 * HOUR, NOW - HOUR),
        ]
    )
    assert sorted(row.seconds / 3600 for row in latest_signups(rows)) == [3, 3, 5]
    [week] = weekly_figures(rows, since=weeks_back(NOW, 1), now=NOW)
    assert (week.registrations, week.median_seconds) == (3, 3 * 3600)

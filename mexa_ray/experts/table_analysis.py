"""The computations a table question asks for, with pandas, each written as a report line.

Every line states its result in a short clause that carries the question's own words (the
column names as words, "highest", "most common", the condition it reads rows by), because the
evidence ranking scores an option by the most relevant clause that names it: "Mean body mass g by
species: the highest is Gentoo" answers "Which species has the highest average body mass?".
Counts out of a total put the total in parentheses, which the ranking counts half, so the total
does not read as the answer.
"""

from __future__ import annotations

import pandas as pd

from mexa_ray.experts.table_question import TableQuestion, display, fmt, quoted
from mexa_ray.experts.text_utils import is_yes_no_question

#: what a group statistic is called in a line, by what the question asks
_AGGREGATES = {
    "mean": "Mean",
    "sum": "Total",
    "median": "Median",
    "max": "Maximum",
    "min": "Minimum",
    "std": "Standard deviation of",
    "count": "Count of",
}


def analyse(q: TableQuestion, max_rows: int, max_groups: int, max_items: int) -> list[str]:
    """The lines that answer what the question asks, most specific first."""
    where = q.where()
    sub = q.df[q.rows()] if q.conditions else q.df
    lines: list[str] = []
    if q.comparison is not None:
        lines += _comparison_lines(q, sub, where)
    if q.conditions:
        lines += _condition_lines(q, sub, where, max_rows, max_items)
    lines += _mode_lines(q, sub, where)
    lines += _distinct_lines(q, sub, where)
    lines += _group_lines(q, sub, where, max_groups)
    lines += _extreme_lines(q, sub, where, max_rows, max_items)
    return list(dict.fromkeys(lines))


def row_line(
    q: TableQuestion, index, head: str, first: list[str], max_items: int, numbered: bool = False
) -> str:
    """One row as "head: key=..., asked=..., ...", the columns that name the row and those
    asked about first; "Row 12 (head): ..." when `numbered`. A row's number is a number in
    the line that an option may meet ("Row 701" meets "700.8"), so only the rows with the
    highest or lowest value carry theirs (as this expert's lines always have)."""
    row = q.df.loc[index]
    order = [c for c in [q.key_column, q.answer_column, *first] if c is not None]
    order += [m.column for m in q.mentions] + list(q.df.columns)
    columns = list(dict.fromkeys(order))[:max_items]
    items = ", ".join(f"{c}={fmt(row[c])}" for c in columns)
    return f"Row {index} ({head}): {items}." if numbered else f"{head}: {items}."


def _condition_lines(
    q: TableQuestion, sub: pd.DataFrame, where: str, max_rows: int, max_items: int
) -> list[str]:
    """The rows the question's conditions pick: how many, the rows themselves when few, and
    the asked columns' statistics over them when many."""
    n, total = len(sub), len(q.df)
    lines = []
    if {"count", "percent"} & q.asks or n > max_rows or n == 0:
        # the share only when asked: an option's number meets any number near it ("29" meets
        # "29.2%"), so a share printed beside a count would support a wrong count
        share = f"; {100 * n / total:.4g}% of rows" if total and "percent" in q.asks else ""
        lines.append(f"Rows where {where}: {n} (of {total} rows){share}.")
    if n == 0:
        return lines
    asked = q.asked_numeric()
    if n <= max_rows:
        first = [c for c in asked] + [c.column for c in q.conditions]
        for index in sub.index:
            lines.append(row_line(q, index, f"Row where {where}", first, max_items))
        return lines
    for column in asked:
        values = sub[column].dropna()
        if values.empty:
            continue
        name = display(column)
        stats = {
            "mean": values.mean(),
            "median": values.median(),
            "min": values.min(),
            "max": values.max(),
            "sum": values.sum(),
        }
        words = {"mean": "mean", "median": "median", "min": "lowest", "max": "highest"}
        words["sum"] = "total"
        asked_first = [k for k in stats if k in q.asks] + [k for k in stats if k not in q.asks]
        items = ", ".join(f"{words[k]} {name} {fmt(stats[k])}" for k in asked_first)
        lines.append(f"Where {where}: {items}.")
    return lines


def _mode_line(column: str, values: pd.Series, least: bool, head: str) -> str | None:
    counts = values.dropna().value_counts()
    if counts.empty:
        return None
    name = display(column)
    target = counts.iloc[-1] if least else counts.iloc[0]
    tied = counts[counts == target].index.tolist()
    which = "least" if least else "most"
    of = f"of {int(counts.sum())} rows"
    if len(tied) == 1:
        text = f"the {which} common {name} is {quoted(tied[0])} ({int(target)} {of})"
    else:
        shown = " and ".join(quoted(v) for v in tied[:4])
        more = f" and {len(tied) - 4} more" if len(tied) > 4 else ""
        text = f"the {which} common {name} is a tie between {shown}{more} ({int(target)} {of} each)"
    return f"{head}: {text}." if head else f"{text[0].upper()}{text[1:]}."


def _mode_lines(q: TableQuestion, sub: pd.DataFrame, where: str) -> list[str]:
    """The most (or least) common value of the column the question asks about."""
    if "frequent" not in q.asks:
        return []
    conditioned = {c.column for c in q.conditions}
    columns = [q.answer_column] if q.answer_column is not None else []
    columns += [m.column for m in q.mentions if m.column not in conditioned]
    least = "min" in q.asks and "max" not in q.asks
    lines = []
    for column in list(dict.fromkeys(columns))[:2]:
        line = _mode_line(column, sub[column], least, f"Where {where}" if where else "")
        if line:
            lines.append(line)
    return lines


def _distinct_lines(q: TableQuestion, sub: pd.DataFrame, where: str) -> list[str]:
    """How many different values the column the question asks about holds ("How many
    different islands are there?"), in the question's own word for "different"."""
    if "distinct" not in q.asks:
        return []
    word = next(
        (w for w in ("distinct", "different", "unique") if w in q.question.lower()), "distinct"
    )
    conditioned = {c.column for c in q.conditions}
    columns = [q.answer_column] if q.answer_column is not None else []
    columns += [m.column for m in q.mentions if m.column not in conditioned]
    lines = []
    for c in list(dict.fromkeys(columns))[:2]:
        text = f"number of {word} {display(c)} values: {sub[c].nunique()} (in {len(sub)} rows)"
        lines.append(f"Where {where}: {text}." if where else f"{text[0].upper()}{text[1:]}.")
    return lines


def _aggregate(q: TableQuestion) -> str:
    for ask in ("sum", "median", "std", "mean"):
        if ask in q.asks:
            return ask
    if {"max", "min"} & q.asks and "quantity" not in q.asks:
        # "the maximum per group", and also "Which island has the penguin with the shortest
        # bill?": the group of the row with the lowest value has the lowest minimum
        return "max" if "max" in q.asks else "min"
    return "mean"


def _group_lines(q: TableQuestion, sub: pd.DataFrame, where: str, max_groups: int) -> list[str]:
    """Per group of the column the question compares (the options' column, or a named column
    of few values), the statistic it asks of the numeric column it names, ranked."""
    group = q.group_column()
    if group is None:
        return []
    asked = [c for c in q.asked_numeric() if c != group]
    wants_counts = bool({"count", "quantity"} & q.asks) and not {"frequent", "distinct"} & q.asks
    if not asked and not wants_counts:
        return []
    frame = sub
    options = {o.strip().lower() for o in q.options}
    if not q.is_categorical(group):  # a key column: compare the rows the options name
        keys = sub[group].astype(str).str.strip().str.lower()
        frame = sub[keys.isin(options).to_numpy()]
        if frame.empty:
            return []
    scope = f" where {where}" if where else ""
    # the group the question looks for first: it is the one listed first
    ascending = "min" in q.asks and "max" not in q.asks
    end = "lowest" if ascending else "highest" if "max" in q.asks and "min" not in q.asks else None
    lines = []
    columns: list[str | None] = [*asked[:2]] or [None]
    for column in columns:
        grouped = frame.groupby(group, observed=True, sort=False)
        if column is None:
            values = grouped.size().sort_values(ascending=ascending, kind="stable")
            head = f"Count of rows by {display(group)}{scope}"
            lines.append(_ranked(head, values, values, values, options, max_groups, " count", end))
            continue
        if not q.is_categorical(group):  # one row per key: its value, no statistic
            values = grouped[column].mean().dropna().sort_values(ascending=ascending, kind="stable")
            head = f"{display(column)} of the rows named by {display(group)}{scope}"
            lines.append(_ranked(head, values, values, values, options, max_groups, "", end))
            continue
        agg = _aggregate(q)
        if agg in ("max", "min"):
            # the range, not "Maximum ... by": a head saying "maximum" would make every
            # group's item as relevant to "Which ... has the highest ..." as the answer
            lo, hi = grouped[column].min().dropna(), grouped[column].max().dropna()
            order = (
                lo.sort_values(kind="stable")
                if ascending
                else hi.sort_values(ascending=False, kind="stable")
            ).index
            shown = pd.Series({g: f"{fmt(lo[g])} to {fmt(hi[g])}" for g in order})
            head = f"{display(column)} range by {display(group)}{scope}"
            lines.append(_ranked(head, shown, hi, lo, options, max_groups, "", end))
            continue
        values = grouped[column].agg(agg).dropna().sort_values(ascending=ascending, kind="stable")
        head = f"{_AGGREGATES[agg]} {display(column)} by {display(group)}{scope}"
        lines.append(_ranked(head, values, values, values, options, max_groups, "", end))
    return [line for line in lines if line]


def _ranked(
    head: str,
    shown: pd.Series,
    highs: pd.Series,
    lows: pd.Series,
    options: set[str],
    max_groups: int,
    word: str,
    asked: str | None,
) -> str:
    """ "head: A 3, B 2, C 1; the highest is A; the lowest is C": the groups in `shown`'s
    order (every option's group among them), then the group of the highest of `highs` and
    the group of the lowest of `lows` (the end the question asks about, if it asks about
    one, plainly and the other in parentheses)."""
    if len(shown) < 2:
        return ""
    listed = list(shown.index[:max_groups])
    listed += [g for g in shown.index[max_groups:] if str(g).strip().lower() in options]
    items = ", ".join(f"{fmt(g)} {fmt(shown[g])}" for g in listed)
    more = len(shown) - len(listed)
    rest = f", and {more} more groups" if more > 0 else ""
    clauses = [f"{head}: {items}{rest}"]
    said = {}
    for which, values, value in (("highest", highs, highs.max()), ("lowest", lows, lows.min())):
        tied = [g for g in values.index if values[g] == value]
        if len(tied) == 1:
            said[which] = f"the {which}{word} is {fmt(tied[0])}"
        else:
            ties = " and ".join(fmt(g) for g in tied[:4])
            said[which] = f"the {which}{word} is a tie between {ties}"
    if asked is None:
        clauses += [said["highest"], said["lowest"]]
    else:  # the other end as an aside: it names a group as plainly relevant otherwise
        other = "lowest" if asked == "highest" else "highest"
        clauses.append(f"{said[asked]} ({said[other]})")
    return "; ".join(clauses) + "."


def _extreme_lines(
    q: TableQuestion, sub: pd.DataFrame, where: str, max_rows: int, max_items: int
) -> list[str]:
    """The row with the highest (lowest) value of the column the question asks about, named
    by the column that identifies rows."""
    if not ({"max", "min"} & q.asks) or "frequent" in q.asks or max_rows == 0:
        return []
    if q.group_column() is not None and {"mean", "sum", "median", "count"} & q.asks:
        return []  # a statistic per group is asked, not a row
    scope = f" where {where}" if where else ""
    lines = []
    ranked = q.asked_numeric()[:2] or [c for c in q.implied if c in q.dates]  # "the latest"
    for column in ranked:
        values = (q.stamps[column] if column in q.dates else sub[column]).loc[sub.index].dropna()
        if values.empty:
            continue
        for which, target in (("highest", values.max()), ("lowest", values.min())):
            if ("max" if which == "highest" else "min") not in q.asks:
                continue
            rows = values.index[values == target]
            tie = f", tied with {len(rows) - 1} more rows" if len(rows) > 1 else ""
            for index in rows[:max_rows]:
                said = q.implied.get(column, which)  # "oldest age": the question's word
                why = f"{said} {display(column)}{scope}{tie}"
                lines.append(row_line(q, index, why, [column], max_items, numbered=True))
    return lines


#: the statistic a comparison of two groups is on, by the words that ask for it
_COMPARED = (("sum", "total"), ("median", "median"), ("std", "standard deviation"))


def _comparison_lines(q: TableQuestion, sub: pd.DataFrame, where: str) -> list[str]:
    """Two groups of one column compared on the statistic the question asks of the numeric
    column it names (the mean unless it says otherwise; a count of rows when it names none),
    the result stated, and for a yes/no question the computed answer."""
    c = q.comparison
    if c is None:
        return []
    numeric = [col for col in q.asked_numeric() if col != c.column]
    if not numeric and len(q.numeric) == 1 and not {"count", "quantity"} & q.asks:
        numeric = list(q.numeric)  # the table's one measure, whatever the question calls it
    stat, label = "mean", "mean"
    for ask, word in _COMPARED:
        if ask in q.asks:
            stat, label = ask, word
    if "aggregate" in q.asks:  # "the maximum invest": a statistic asked by name
        stat = label = "max" if "max" in q.asks else "min"
    groups = sub[c.column]
    values = {}
    for value in (c.first, c.second):
        rows = sub[groups == value]
        if numeric:
            values[value] = float(rows[numeric[0]].agg(stat)) if len(rows) else float("nan")
        else:
            values[value] = float(len(rows))
    measure = f"{label} {display(numeric[0])}" if numeric else "number of rows"
    a, b = values[c.first], values[c.second]
    scope = f" (rows where {where})" if where else ""
    if a != a or b != b:  # a group with no rows or no values
        return [
            f"Comparison of {display(c.column)} {quoted(c.first)} with {quoted(c.second)}"
            f"{scope}: one of the groups has no {measure}."
        ]
    order = "higher" if a > b else "lower" if a < b else "equal"
    lines = [
        f"Comparison of {display(c.column)} {quoted(c.first)} with {quoted(c.second)}{scope}: "
        f"{measure} {fmt(a)} against {fmt(b)}; {quoted(c.first)} is {order}"
        + ("." if order == "equal" else f" than {quoted(c.second)}.")
    ]
    if is_yes_no_question(q.question):
        holds = (a > b) if c.op == ">" else (a < b)
        said = "is" if holds else "is not"
        lines.insert(
            0,
            f"Computed answer: {'yes' if holds else 'no'} (the {measure} where "
            f"{display(c.column)} is {quoted(c.first)}, {fmt(a)}, {said} {c.word} than where "
            f"it is {quoted(c.second)}, {fmt(b)}).",
        )
    return lines

"""`LongSelect`, the organisation choice written out in Python: the same HTML as Django's
select template (up to whitespace and the order of attributes), escaped the same way."""

from __future__ import annotations

from django import forms
from django.test.html import parse_html

from apps.administration.forms import LongSelect

CHOICES = [("", "Every unit"), ("a", 'Ward <A> & "B"'),
           ("Region <X>", [("b", "Unit B"), ("c", "Unit C")])]


def test_the_markup_is_djangos_with_the_choice_selected_and_text_escaped():
    attrs = {"id": "id_unit", "aria-describedby": "id_unit_helptext", "required": True}
    ours = LongSelect(choices=CHOICES).render("unit", "b", attrs)
    djangos = forms.Select(choices=CHOICES).render("unit", "b", attrs)
    assert parse_html(ours) == parse_html(djangos)
    assert '<option value="b" selected>Unit B</option>' in ours
    assert "Ward &lt;A&gt; &amp; &quot;B&quot;" in ours
    assert '<optgroup label="Region &lt;X&gt;">' in ours

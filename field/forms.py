from django import forms

from field import selectors


class ShiftStartForm(forms.Form):
    unit = forms.ModelChoiceField(
        queryset=selectors.unit_list_startable(),
        label="Unit",
        empty_label="Choose your unit",
        help_text="Your partner chooses the same unit.",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the units of the programs the responder works in.
        self.fields["unit"].queryset = selectors.unit_list_startable(user)

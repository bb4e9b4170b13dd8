import re

from django import forms

from dispatch.models import CallType, ScreeningQuestion

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_\-]*$")


class CallTypeForm(forms.ModelForm):
    class Meta:
        model = CallType
        fields = ["code", "name", "eligible", "guidance"]
        widgets = {"guidance": forms.Textarea(attrs={"rows": 3})}

    def clean_code(self):
        code = self.cleaned_data["code"].strip().upper()
        if not CODE_RE.match(code):
            raise forms.ValidationError("Use letters, digits, dashes and underscores, as the CAD does.")
        clash = CallType.objects.filter(code__iexact=code)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"{code} is already in the catalogue.")
        return code


class ScreeningQuestionForm(forms.ModelForm):
    class Meta:
        model = ScreeningQuestion
        fields = ["prompt", "guidance"]
        widgets = {"guidance": forms.Textarea(attrs={"rows": 3})}

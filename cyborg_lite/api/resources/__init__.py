"""falcon resources, one module per noun; each responder is thin (see STYLE.md, habit 4)."""

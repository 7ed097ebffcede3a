"""The setup pages' HTML (Jinja templates rendered by `app.web.setup`)."""

STYLE = """<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;
padding:0 1rem}code{background:#f3f3f3;padding:0 .2rem}button{font-size:1rem;padding:.5rem 1rem}
fieldset{border:1px solid #ccc;margin:1rem 0}</style>"""

SETUP = (
    """<!doctype html><html><head><meta charset="utf-8"><title>Register foureyes</title>"""
    + STYLE
    + """</head><body>
<h1>Register foureyes on GitHub</h1>
<p>foureyes has no <code>APP_ID</code> yet. This creates its GitHub App from
<code>app.yml</code> in one click; webhooks will go to <code>{{ hook }}</code>.</p>
{% if unreachable %}<p><strong>Warning:</strong> {{ unreachable }}</p>{% endif %}
{% if problem %}<p><strong>{{ problem }}.</strong></p>{% endif %}
<form method="post" action="{{ action }}" id="register">
  <input type="hidden" name="manifest" value="{{ manifest }}">
  <button type="submit">Create the app "{{ name }}" on GitHub
    {%- if org %} for {{ org }}{% endif %}</button>
</form>
<form method="post" action="/setup">
  <input type="hidden" name="setup_code" value="{{ setup_code }}">
  <fieldset><legend>Options</legend>
  <label>Organisation (empty: your own account)
    <input name="org" value="{{ org }}" pattern="[A-Za-z0-9-]{1,39}"></label><br>
  <label>App name (must be unique on GitHub) <input name="name" value="{{ name }}"
    maxlength="34"></label>
  <button type="submit">Update</button></fieldset>
</form>
<h2>What the app will ask for, and why</h2>
<table>{% for name, level, why in permissions %}
  <tr><td><code>{{ name }}: {{ level }}</code></td><td>{{ why }}</td></tr>{% endfor %}
</table>
</body></html>"""
)

CODE_PAGE = (
    """<!doctype html><html><head><meta charset="utf-8"><title>Register foureyes</title>"""
    + STYLE
    + """</head><body>
<h1>Register foureyes on GitHub</h1>
<p>foureyes has no <code>APP_ID</code> yet. Enter the setup code that
<code>foureyes serve</code> printed on its console (the <code>setup.open</code> line):
only the operator of this server may register its app.</p>
{% if wrong %}<p><strong>That is not the setup code.</strong></p>{% endif %}
<form method="post" action="/setup">
  <label>Setup code <input name="setup_code" autocomplete="off" required></label>
  <input type="hidden" name="org" value="{{ org }}">
  <input type="hidden" name="name" value="{{ name }}">
  <button type="submit">Continue</button>
</form>
</body></html>"""
)

DONE = (
    """<!doctype html><html><head><meta charset="utf-8"><title>foureyes registered</title>"""
    + STYLE
    + """</head><body>
<h1>Registered "{{ name }}" (app id {{ app_id }})</h1>
<p>Its id, private key, webhook secret and OAuth credentials are in <code>{{ env }}</code>
(readable by you only). Keep that file out of version control.</p>
<ol>
  <li><a href="{{ install_url }}">Install the app</a> on the repositories its agents work in.</li>
  <li>Restart <code>foureyes serve</code> (Ctrl-C, then run it again): it reads
      <code>.env</code> on start and leaves setup mode.</li>
  <li>Require the <code>foureyes</code> check in a ruleset, then run
      <code>foureyes doctor</code> to see that the gate is really enforced.</li>
</ol>
</body></html>"""
)

REGISTERED = (
    """<!doctype html><html><head><meta charset="utf-8"><title>foureyes registered</title>"""
    + STYLE
    + """</head><body>
<h1>foureyes is registered (app id {{ app_id }})</h1>
<p><code>.env</code> holds the app's credentials: restart <code>foureyes serve</code> to
leave setup mode.</p>
</body></html>"""
)

INSTALLED = (
    """<!doctype html><html><head><meta charset="utf-8"><title>foureyes installed</title>"""
    + STYLE
    + """</head><body>
<h1>foureyes is installed</h1>
{% if setup_mode %}<p>Restart <code>foureyes serve</code> so it reads <code>.env</code>.</p>
{% endif %}
<p>Next, make the gate binding: in each repository (or the organisation),
Settings → Rules → Rulesets → New branch ruleset, target the default branch, enable
"Require status checks to pass", add <code>foureyes</code> and choose the foureyes app as
its source. Then run <code>foureyes doctor</code>.</p>
</body></html>"""
)

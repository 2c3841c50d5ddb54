"""`t2igan serve`: a local web page that makes images from text, and the JSON API behind it.

    limits.py    what one request may ask for and how many run at once (flags of `serve`)
    app.py       the WSGI application (Werkzeug): the page, /api/info, /api/generate,
                 /api/interpolate; every error a JSON object with a 4xx or 5xx status
    page.html    the page: plain HTML and JavaScript, nothing fetched from elsewhere
"""

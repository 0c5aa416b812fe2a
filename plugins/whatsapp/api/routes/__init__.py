"""The API's routers: one channel (``channels``), the whole fleet (``fleet``), the page (``page``)."""

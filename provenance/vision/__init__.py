"""Image work on the frames beyond hashes: local features, colour and tone, overlays.

Modules, in the order the work flows: ``feature_image`` (the feature images' rate and size),
``features`` (ORB keypoints of two frames a second and their geometric matching), ``tone`` (colour
grading and insets from the colour grids of frames that show the same moment), ``overlays``
(captions, logos and tickers fixed on the query).
"""

"""Sampled frames: decoded and shrunk by ffmpeg, their borders found, cut into shots, keyframes written.

Modules, in the order the work flows: ``launch`` (the ffmpeg command line of a decode, and its start,
without numpy), ``decode`` (ffmpeg decodes, samples and scales; raw frames through a pipe), ``borders``
(letterbox, pillarbox and blurred padding found and cut away), ``shots`` (cuts between samples and one
keyframe per shot), ``keyframes`` (those frames again at display size, as JPEGs and a contact sheet),
``pictures`` (small JPEGs of the shot keyframes and one every 2 s, kept in the archive to show beside a
match).
"""

#!/usr/bin/env bash
echo "make run: not yet"

"""Legacy OpenStack notifications in, versioned notifications out."""

import importlib.metadata
import warnings

# oslo.versionedobjects imports oslo.messaging, whose server module imports
# eventlet; the translator never uses eventlet, so its warning is noise.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

try:
    __version__ = importlib.metadata.version('translator')
except importlib.metadata.PackageNotFoundError:  # a checkout not installed
    __version__ = '0+unknown'

"""Legacy OpenStack notifications in, versioned notifications out."""

import warnings

# oslo.versionedobjects imports oslo.messaging, whose server module imports
# eventlet; the translator never uses eventlet, so its warning is noise.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

"""Legacy OpenStack notifications in, versioned notifications out."""

import importlib.metadata
import warnings

# oslo.versionedobjects imports oslo.messaging, whose server module imports
# eventlet; the translator never uses eventlet, so its warning is noise.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
# eventlet imports dnspython, which touches DSA where the cryptography
# package is installed (it is on most OpenStack hosts): noise as well.
warnings.filterwarnings('ignore', message='DSA is deprecated',
                        module='dns')

#: The name on the package index; the command and the package stay
#: ``translator`` (the index's ``translator`` is an unrelated project).
DISTRIBUTION = 'openstack-notification-translator'

try:
    __version__ = importlib.metadata.version(DISTRIBUTION)
except importlib.metadata.PackageNotFoundError:  # a checkout not installed
    __version__ = '0+unknown'

"""Plain-English texts a learner can open next to a view (Markdown).

Pages show them with ``dashboard.ui.components.explanation(title, TEXT)``. Keep each
short: what the picture shows, how to read it, one thing to try.
"""

CONVOLUTION = """
A **convolution** slides a small grid of weights (a *filter*, e.g. 3x3) over the image. At every
position it multiplies the pixels under the filter by the weights and adds them up: a large result
means "the pattern this filter looks for is here". A conv layer has many filters, so it produces
many maps, one per filter. Training chooses the weights; nobody designs them by hand.
"""

PADDING = """
**Padding** decides what happens at the border. With *valid* padding the filter only visits
positions where it fits entirely, so a 3x3 filter turns 28x28 pixels into 26x26. With *same*
padding the image is surrounded by zeros first and the output keeps the input's size.
"""

STRIDE = """
The **stride** is how far the filter moves between two positions. Stride 1 visits every position;
stride 2 skips every other one and halves the width and height of the output, a cheap way to shrink
the maps without pooling.
"""

POOLING = """
**Max pooling** looks at small windows (usually 2x2) of each feature map and keeps only the largest
value. The map shrinks by half in each direction and becomes less sensitive to exactly where a
pattern sits: a stroke moved by one pixel still gives the same pooled value.
"""

DENSE = """
A **dense** (fully connected) layer connects every input to every output unit. After the last
pooling layer the maps are *flattened* into one long list of numbers; the dense layer combines them
into a smaller set of features. Each bar is one unit's output for this digit.
"""

SOFTMAX = """
The last layer has one unit per digit class. **Softmax** turns their raw scores into
**probabilities** that are all positive and add up to 100%. The tallest bar is the network's answer;
green marks the true class and red a wrong answer. A confident network puts almost everything on one bar.
"""

SALIENCY = """
A **saliency map** shows which pixels matter for the answer: how much the predicted class's score
would change if that pixel changed a little (the gradient). Hot colours mark pixels that sway the
decision. A good network looks at the strokes of the digit, not at the empty background.
"""

FILTERS = """
Each small square is one **filter** of a convolution layer, shown as its weights: red pixels are
positive (the filter likes brightness there), blue negative (it likes darkness there). First-layer
filters often become edge and stroke detectors. Move the epoch slider to watch them emerge from
random noise. For a later layer each filter has one grid of weights *per input channel*; the grid
shows their mean, or the weights on the input channel you choose.
"""

MAXIMISING_INPUTS = """
Beside the weights, each tile is the 28x28 **input that excites one filter most**, found at the end of
training by gradient ascent: starting from grey with a little noise, the image is nudged again and again
in the direction that raises the filter's mean output, with a light blur and a one-pixel jitter now and
then and a slow fade towards black, so that it keeps patterns the filter really prefers rather than pixel
noise. Each tile is stretched to its own contrast. A first-layer filter's input is usually a texture of
stripes or edges at one angle; a deeper filter's combines several.

A filter is **dead** when it never fires on any probe digit: after ReLU its largest output is 0 (after
LeakyReLU, at most 1% of the layer's largest output). It is **saturated** when it fires on more than 95%
of the positions of every probe digit, so it no longer picks anything out. Both come from the probe digits'
activations after the last epoch; dead tiles are framed red, saturated ones orange.
"""

FEATURE_MAPS = """
A **feature map** is what one filter "sees" in the digit: bright where its pattern appears, dark
where it does not. Every tile is one channel of the chosen layer; all tiles share one colour bar.
Early layers keep the digit's shape; deeper layers are smaller and more abstract. Click a tile to
look at that channel in 3D. Switch on *class average* to see the mean over all probe digits of a class.
"""

SURFACE = """
The **3D surface** draws one feature map as a landscape: height and colour are the activation at each
position. Peaks are where the filter fires strongly. Switch on **Interactive** under it to rotate it,
zoom and hover for the values (a 3D scene that takes a browser without a graphics card a few seconds).
"""

SURFACE_EPOCHS = """
Move the **epoch slider** to see the landscape change as the network learns (the picture follows once
you let go; the interactive view follows while you drag).
"""

STACKED = """
The **stacked view** puts every layer of the network on its own floor, the input digit at the bottom
and the class probabilities on top. Each floor shows the mean over the layer's channels (or the chosen
channel) scaled to its own range, so you can follow the digit as it turns from pixels into features
and finally into an answer. Dense layers are strips, one cell per unit.
"""

ARCHITECTURE = """
The network reads a 28x28 digit and passes it through its layers from left to right. Each block is
one layer's output: its width and height are the size of the feature maps and its depth grows with
the number of channels. Convolution and pooling make the maps smaller and more numerous; *flatten*
turns them into one list, and the dense layers end in ten numbers, one per digit. The table lists
each layer's output shape and how many weights (**parameters**) it learns.
"""

EPOCHS = """
The network was photographed before training (epoch 0) and after each epoch. Move the **epoch
slider** to replay how the filters and activations changed while it learned.
"""

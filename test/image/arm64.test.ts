// The image's runtime stage as a root filesystem for linux/arm64, run under qemu-user, with the chart's container run in it (suite.ts).
import { imageSuite } from './suite.ts';

imageSuite('arm64');

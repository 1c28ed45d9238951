/*
 * Batch driver for ImageJ 1.x "Process > Subtract Background..." used by the
 * bgsub fidelity tests.  It calls the public API of
 * ij.plugin.filter.BackgroundSubtracter directly, so it runs headless
 * (java -Djava.awt.headless=true -cp ij.jar:<dir> RunSubtract jobs.txt).
 *
 * jobs.txt holds one job per line, whitespace separated:
 *
 *   input.tif output.tif radius create light paraboloid presmooth corners separate
 *
 * where the last six fields are 0 or 1.  Every slice of the input (a single
 * image or a TIFF stack) is processed on its own, and the result is written as
 * a TIFF.  RGB images go through the brightness (HSB) path, as the plugin does,
 * unless "separate" is 1.  A job that throws is reported as
 * "ERROR <output> <exception>" on stdout and the remaining jobs still run;
 * successful jobs print "OK <output>".  Lines starting with '#' are ignored.
 *
 * "RunSubtract --macro-values strings.txt" instead prints, for every line of
 * the file, what ImageJ's Macro.getValue reads as the rolling ball radius from
 * that macro option string: "VALUE:<text>", or "DEFAULT" when it falls back to
 * the dialog's default (the option parser's tests compare their mirror with it).
 *
 * The first two lines of the output name the ImageJ release of the jar
 * ("IMAGEJ 1.53t") and where BackgroundSubtracter was loaded from
 * ("SUBTRACTER <location>"): a BackgroundSubtracter compiled from another
 * release's source and put before the jar on the class path replaces the jar's.
 */
import ij.IJ;
import ij.ImagePlus;
import ij.ImageStack;
import ij.Macro;
import ij.io.FileSaver;
import ij.io.Opener;
import ij.plugin.filter.BackgroundSubtracter;
import ij.process.ColorProcessor;
import ij.process.ImageProcessor;

import java.io.BufferedReader;
import java.io.FileReader;

public class RunSubtract {

    private static boolean flag(String s) {
        return s.equals("1") || s.equalsIgnoreCase("true");
    }

    private static void runJob(String[] f) throws Exception {
        String in = f[0];
        String out = f[1];
        double radius = Double.parseDouble(f[2]);
        boolean create = flag(f[3]);
        boolean light = flag(f[4]);
        boolean paraboloid = flag(f[5]);
        boolean presmooth = flag(f[6]);
        boolean corners = flag(f[7]);
        boolean separate = flag(f[8]);

        ImagePlus imp = new Opener().openImage(in);
        if (imp == null)
            throw new IllegalStateException("cannot open " + in);
        ImageStack stack = imp.getStack();
        for (int i = 1; i <= stack.getSize(); i++) {
            ImageProcessor ip = stack.getProcessor(i);
            // a fresh instance per slice, like a plain API caller would use
            BackgroundSubtracter bs = new BackgroundSubtracter();
            if (ip instanceof ColorProcessor && !separate)
                bs.rollingBallBrightnessBackground((ColorProcessor) ip, radius, create, light,
                        paraboloid, presmooth, corners);
            else
                bs.rollingBallBackground(ip, radius, create, light, paraboloid, presmooth,
                        corners);
        }
        FileSaver saver = new FileSaver(imp);
        boolean ok = stack.getSize() > 1 ? saver.saveAsTiffStack(out) : saver.saveAsTiff(out);
        if (!ok)
            throw new IllegalStateException("cannot save " + out);
    }

    private static void macroValues(String path) throws Exception {
        try (BufferedReader r = new BufferedReader(new FileReader(path))) {
            String line;
            while ((line = r.readLine()) != null) {
                String value = Macro.getValue(line, "Rolling ball radius:", null);
                System.out.println(value == null ? "DEFAULT" : "VALUE:" + value);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("--macro-values")) {
            macroValues(args[1]);
            return;
        }
        if (args.length != 1) {
            System.err.println("usage: RunSubtract jobs.txt");
            System.exit(2);
        }
        System.out.println("IMAGEJ " + IJ.getVersion());
        System.out.println("SUBTRACTER "
                + BackgroundSubtracter.class.getProtectionDomain().getCodeSource().getLocation());
        try (BufferedReader r = new BufferedReader(new FileReader(args[0]))) {
            String line;
            while ((line = r.readLine()) != null) {
                line = line.trim();
                if (line.isEmpty() || line.startsWith("#"))
                    continue;
                String[] f = line.split("\\s+");
                if (f.length != 9) {
                    System.out.println("ERROR " + (f.length > 1 ? f[1] : line) + " bad job line");
                    continue;
                }
                try {
                    runJob(f);
                    System.out.println("OK " + f[1]);
                } catch (Throwable t) {
                    System.out.println("ERROR " + f[1] + " " + t);
                }
            }
        }
        System.out.flush();
    }
}

// dotnet run -c Release --project benchmarks/Ori.Sockets.Benchmarks -- --filter '*'   (add --job short for a quick run)
using BenchmarkDotNet.Running;

// The test script runs every benchmark once (--job dry --inProcess): a benchmark that cannot run fails the exit code.
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Ori.Sockets.Benchmarks.ReceivePathBenchmarks).Assembly).Run(args);
return summaries.Any(static s => s.HasCriticalValidationErrors || s.Reports.Any(static r => !r.Success)) ? 1 : 0;

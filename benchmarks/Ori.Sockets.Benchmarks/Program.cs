// dotnet run -c Release --project benchmarks/Ori.Sockets.Benchmarks -- --filter '*'   (add --job short for a quick run)
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Ori.Sockets.Benchmarks.ReceivePathBenchmarks).Assembly).Run(args);

using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Ori.Sockets.Hosting;
using Ori.Sockets.Routing;

namespace Ori.Sockets.Benchmarks;

/// <summary>
/// What metrics and traces cost per routed message: the whole pipeline (envelope, budget, dispatch, handler, reply)
/// with nothing listening, with OpenTelemetry's SDK on the meter Ori.Sockets, and with its tracer on the activity source
/// too (always sampled, batched to an exporter that discards). The message carries a traceparent in every case.
/// </summary>
[MemoryDiagnoser]
public class TelemetryBenchmarks
{
    private Harness _harness = null!;
    private SocketInvocation _invocation = null!;
    private MessagePipeline _pipeline = null!;
    private MeterProvider? _meters;
    private TracerProvider? _tracer;
    private readonly byte[] _message = """{"type":"presence.update","data":{"status":"idle"},"correlationId":"c-42","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}"""u8.ToArray();

    [Params("none", "metrics", "metrics+tracing")]
    public string Listening { get; set; } = "none";

    [GlobalSetup]
    public void Setup()
    {
        _harness = new Harness();
        _invocation = _harness.NewInvocation(Harness.NewConnection("bench"));
        var metrics = _harness.Services.GetRequiredService<SocketMetrics>();
        _pipeline = new MessagePipeline(32, new MessageBudget(0, 0, 5), TimeProvider.System, NullLogger.Instance, metrics);
        if (Listening != "none")
        {
            _meters = Sdk.CreateMeterProviderBuilder().AddMeter(SocketMetrics.MeterName)
                .AddReader(new PeriodicExportingMetricReader(new Discard<Metric>(), exportIntervalMilliseconds: 60_000)).Build();
        }

        if (Listening == "metrics+tracing")
        {
            _tracer = Sdk.CreateTracerProviderBuilder().AddSource("Ori.Sockets").SetSampler(new AlwaysOnSampler())
                .AddProcessor(new BatchActivityExportProcessor(new Discard<Activity>())).Build();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _tracer?.Dispose();
        _meters?.Dispose();
        _harness.Dispose();
    }

    [Benchmark(Description = "routed message with a reply, whole pipeline")]
    public bool Dispatch()
    {
        var pending = _pipeline.ProcessAsync(_harness.Dispatcher, _invocation, _message);
        return pending.IsCompletedSuccessfully;
    }

    private sealed class Discard<T> : BaseExporter<T>
        where T : class
    {
        public override ExportResult Export(in Batch<T> batch) => ExportResult.Success;
    }
}

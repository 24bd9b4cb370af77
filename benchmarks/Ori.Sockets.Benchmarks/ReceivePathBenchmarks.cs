using System.Buffers;
using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Ori.Sockets.Connections;
using Ori.Sockets.Protocol;

namespace Ori.Sockets.Benchmarks;

/// <summary>
/// One message in, one reply out: each step alone, then the whole path, for a small and a medium
/// message; the same work with reflection System.Text.Json + DataAnnotations + a Dictionary route table;
/// and SignalR's JsonHubProtocol parsing the equivalent invocation.
/// </summary>
[MemoryDiagnoser]
public class ReceivePathBenchmarks
{
    private static readonly JsonSerializerOptions s_web = new(JsonSerializerDefaults.Web);
    private readonly byte[] _typeBuffer = new byte[128];
    private Harness _harness = null!;
    private SocketInvocation _invocation = null!;
    private byte[] _message = null!;
    private ReadOnlyMemory<byte> _data;
    private EnvelopeParts _parts;
    private Dictionary<string, Func<JsonElement, object>> _routes = null!;
    private JsonHubProtocol _signalR = null!;
    private byte[] _signalRMessage = null!;
    private Binder _binder = null!;

    [Params("small", "medium")]
    public string Size { get; set; } = "small";

    [GlobalSetup]
    public void Setup()
    {
        _harness = new Harness();
        _invocation = _harness.NewInvocation(Harness.NewConnection("bench"));
        _message = Size == "small" ? Payloads.Small : Payloads.Medium;
        _data = Payloads.DataOf(_message);
        EnvelopeReader.TryRead(_message, 32, _typeBuffer, out _parts, out _);
        _routes = new Dictionary<string, Func<JsonElement, object>>(StringComparer.Ordinal)
        {
            ["presence.update"] = data => Validate(data.Deserialize<PresenceUpdateDto>(s_web)!) is { } _ ? new PresenceAck(true) : throw new InvalidOperationException(),
            ["order.place"] = data => new OrderPlaced("o-1", Validate(data.Deserialize<PlaceOrderDto>(s_web)!).Quantity),
        };
        _signalR = new JsonHubProtocol();
        _binder = new Binder(Size == "small" ? typeof(PresenceUpdateDto) : typeof(PlaceOrderDto));
        var target = Size == "small" ? "UpdatePresence" : "PlaceOrder";
        _signalRMessage = System.Text.Encoding.UTF8.GetBytes($$"""{"type":1,"invocationId":"42","target":"{{target}}","arguments":[{{System.Text.Encoding.UTF8.GetString(_data.Span)}}]}""" + "\u001e");
    }

    [GlobalCleanup]
    public void Cleanup() => _harness.Dispose();

    [Benchmark(Description = "1 envelope parse")]
    public bool EnvelopeParse() => EnvelopeReader.TryRead(_message, 32, _typeBuffer, out _, out _);

    [Benchmark(Description = "2 route lookup (generated table)")]
    public bool RouteLookup()
    {
        var invocation = _invocation;
        _typeBuffer.AsSpan(0, _parts.TypeLength).CopyTo(invocation.TypeBuffer);
        invocation.Reset(_parts.TypeLength, default, default);
        // An unknown name of the same length walks the same switch and comparison without running a handler.
        return _harness.Dispatcher.TryDispatch("zzzzzzzzzzzzzzz"u8[.._parts.TypeLength], invocation, out _);
    }

    [Benchmark(Description = "3 data read + validation (generated)")]
    public object? Deserialize()
    {
        var reader = new Utf8JsonReader(_data.Span);
        reader.Read();
        var validation = new SocketValidationContext("$.data");
        return Size == "small" ? PresenceUpdate.Serializer.Read(ref reader, validation) : PlaceOrder.Serializer.Read(ref reader, validation);
    }

    [Benchmark(Description = "4 reply serialization")]
    public SocketFrame Reply() => Size == "small"
        ? EnvelopeFrames.Reply("presence.update"u8, "\"c-42\""u8, new PresenceAck(true), static (w, r) => w.WriteBooleanValueObject(r))
        : EnvelopeFrames.Reply("order.place"u8, "\"c-43\""u8, new OrderPlaced("o-1", 3), static (w, r) => w.WriteOrder(r));

    [Benchmark(Description = "5 whole receive path (Ori.Sockets)")]
    public bool Whole()
    {
        if (!EnvelopeReader.TryRead(_message, 32, _typeBuffer, out var parts, out _))
        {
            return false;
        }

        var invocation = _invocation;
        _typeBuffer.AsSpan(0, parts.TypeLength).CopyTo(invocation.TypeBuffer);
        invocation.Reset(parts.TypeLength, _message.AsMemory(parts.CorrelationStart, parts.CorrelationLength), _message.AsMemory(parts.DataStart, parts.DataLength));
        var found = _harness.Dispatcher.TryDispatch(invocation.Type, invocation, out var completion);
        completion.GetAwaiter().GetResult();
        return found;
    }

    [Benchmark(Baseline = true, Description = "baseline: reflection STJ + DataAnnotations + Dictionary routes")]
    public byte[] ReflectionBaseline()
    {
        var envelope = JsonSerializer.Deserialize<EnvelopeDto>(_message, s_web)!;
        var reply = _routes[envelope.Type!](envelope.Data);
        return JsonSerializer.SerializeToUtf8Bytes(new ReplyDto { Type = envelope.Type, CorrelationId = envelope.CorrelationId, Data = reply }, s_web);
    }

    [Benchmark(Description = "SignalR JsonHubProtocol: parse the invocation")]
    public HubMessage? SignalRParse()
    {
        var input = new ReadOnlySequence<byte>(_signalRMessage);
        _signalR.TryParseMessage(ref input, _binder, out var message);
        return message;
    }

    private static T Validate<T>(T value)
        where T : class
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true))
        {
            throw new ValidationException(results[0].ErrorMessage);
        }

        return value;
    }

    private sealed class EnvelopeDto
    {
        public string? Type { get; set; }

        public JsonElement Data { get; set; }

        public string? CorrelationId { get; set; }
    }

    private sealed class ReplyDto
    {
        public string? Type { get; set; }

        public string? CorrelationId { get; set; }

        public object? Data { get; set; }
    }

    private sealed class Binder(Type argument) : IInvocationBinder
    {
        public IReadOnlyList<Type> GetParameterTypes(string methodName) => [argument];

        public Type GetReturnType(string invocationId) => typeof(object);

        public Type GetStreamItemType(string streamId) => typeof(object);
    }
}

internal static class ReplyWriters
{
    public static void WriteBooleanValueObject(this Utf8JsonWriter writer, PresenceAck ack)
    {
        writer.WriteStartObject();
        writer.WriteBoolean("updated"u8, ack.Updated);
        writer.WriteEndObject();
    }

    public static void WriteOrder(this Utf8JsonWriter writer, OrderPlaced order)
    {
        writer.WriteStartObject();
        writer.WriteString("orderId"u8, order.OrderId);
        writer.WriteNumber("quantity"u8, order.Quantity);
        writer.WriteEndObject();
    }
}

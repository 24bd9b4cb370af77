using System.Collections.Generic;
using System.Linq;
using System.Text;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;

namespace Ori.Sockets.Generators.Emitting;

/// <summary>
/// Writes the application's AsyncAPI 3.0 document: the WebSocket endpoint as a server and one channel, every route as a
/// send operation with its reply (or the error reply), every push as a receive operation. Payloads are the protocol's
/// envelopes as JSON Schema draft 2020-12; the data inside them refers to <c>components.schemas</c>, written from the same
/// shapes as the serializers (and, having no draft-2020-12-only keyword, valid AsyncAPI schemas too).
/// </summary>
internal static class AsyncApiEmitter
{
    /// <summary>The error codes of an error reply (protocol section 3; SocketErrorCodes, checked by a test).</summary>
    public static readonly string[] ErrorCodes = ["bad_request", "unknown_type", "validation_failed", "forbidden", "rate_limited", "internal_error", "unavailable"];

    private const string Format = "application/schema+json;version=draft-2020-12";

    public static string Emit(EquatableArray<ContractMessageModel> messages, EquatableArray<RouteModel> routes, string title)
    {
        var (shapes, names) = TypeScriptEmitter.Shapes(messages, routes);
        var messageJson = new List<(string Key, string Json)>();
        var operations = new List<(string Key, string Json)>();
        foreach (var route in routes.OrderBy(r => r.RouteName, System.StringComparer.Ordinal))
        {
            var request = route.RouteName + ".request";
            var reply = route.RouteName + ".reply";
            var data = route.Message is null ? null : SchemaEmitter.TypeSchema(route.Message, shapes, names);
            messageJson.Add((request, Message(route.RouteName, $"The request '{route.RouteName}'.", Envelope(("type", Const(route.RouteName), true), ("correlationId", CorrelationId, false), ("data", data ?? "{\"type\":\"null\"}", data is not null)))));
            var replyData = route.Reply is null ? null : SchemaEmitter.TypeSchema(route.Reply, shapes, names);
            messageJson.Add((reply, Message(route.RouteName, $"The reply to '{route.RouteName}' (sent when the request has a correlation id).",
                Envelope(("type", Const(route.RouteName), true), ("correlationId", CorrelationId, true), ("data", replyData ?? "{\"type\":\"null\"}", replyData is not null)))));
            operations.Add((route.RouteName, "{\"action\":\"send\",\"channel\":{\"$ref\":\"#/channels/socket\"},\"summary\":" + $"Route '{route.RouteName}'.".ToJsonString()
                + ",\"messages\":[" + Ref(request) + "],\"reply\":{\"channel\":{\"$ref\":\"#/channels/socket\"},\"messages\":[" + Ref(reply) + "," + Ref("error") + "]}}"));
        }

        foreach (var push in TypeScriptEmitter.Pushes(messages, routes))
        {
            var data = names.TryGetValue(push.Fqn, out var name) ? "{\"$ref\":\"#/components/schemas/" + name + "\"}" : "{}";
            messageJson.Add((push.WireName, Message(push.WireName, $"The push '{push.WireName}'.",
                Envelope(("name", Const(push.WireName), true), ("data", data, true), ("timestamp", "{\"type\":\"integer\",\"description\":\"Unix milliseconds.\"}", true)))));
            operations.Add((push.WireName, "{\"action\":\"receive\",\"channel\":{\"$ref\":\"#/channels/socket\"},\"summary\":" + $"Push '{push.WireName}'.".ToJsonString()
                + ",\"messages\":[" + Ref(push.WireName) + "]}"));
        }

        var details = "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}},\"required\":[\"path\",\"message\"]}}";
        messageJson.Add(("error", Message("error", "An error reply: its code, a sentence, and for validation_failed the JSON path of each failure.",
            Envelope(("type", "{\"type\":\"string\"}", false), ("correlationId", CorrelationId, false),
                ("error", "{\"type\":\"string\",\"enum\":[" + string.Join(",", ErrorCodes.Select(c => c.ToJsonString())) + "]}", true),
                ("message", "{\"type\":\"string\"}", true), ("details", details, false)))));

        var json = new StringBuilder();
        json.Append("{\"asyncapi\":\"3.0.0\",\"info\":{\"title\":").Append(title.ToJsonString())
            .Append(",\"version\":\"1.0.0\",\"description\":")
            .Append("The WebSocket API of this application (Ori.Sockets): the routes a client sends, with their replies, and the pushes it receives. Every message is one JSON text frame, an envelope of the Ori.Sockets protocol.".ToJsonString())
            .Append("},\"defaultContentType\":\"application/json\"");
        json.Append(",\"servers\":{\"app\":{\"host\":\"localhost\",\"protocol\":\"ws\",\"description\":\"This application (the host and scheme of the request that fetched this document, when served).\"}}");
        json.Append(",\"channels\":{\"socket\":{\"address\":\"/ws\",\"description\":\"The WebSocket endpoint.\",\"servers\":[{\"$ref\":\"#/servers/app\"}],\"messages\":{");
        json.Append(string.Join(",", messageJson.Select(m => m.Key.ToJsonString() + ":{\"$ref\":\"#/components/messages/" + m.Key + "\"}")));
        json.Append("}}},\"operations\":{").Append(string.Join(",", operations.Select(o => o.Key.ToJsonString() + ":" + o.Json)));
        json.Append("},\"components\":{\"messages\":{").Append(string.Join(",", messageJson.Select(m => m.Key.ToJsonString() + ":" + m.Json)));
        json.Append("},\"schemas\":").Append(SchemaEmitter.Components(shapes, names)).Append("}}");
        return json.ToString();
    }

    private const string CorrelationId = "{\"type\":\"string\",\"minLength\":1,\"maxLength\":128}";

    private static string Const(string value) => "{\"const\":" + value.ToJsonString() + "}";

    private static string Ref(string message) => "{\"$ref\":\"#/channels/socket/messages/" + message + "\"}";

    private static string Message(string name, string summary, string envelope) =>
        "{\"name\":" + name.ToJsonString() + ",\"summary\":" + summary.ToJsonString() + ",\"payload\":{\"schemaFormat\":\"" + Format + "\",\"schema\":" + envelope + "}}";

    private static string Envelope(params (string Name, string Schema, bool Required)[] members) =>
        "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\",\"properties\":{"
        + string.Join(",", members.Select(m => m.Name.ToJsonString() + ":" + m.Schema))
        + "},\"required\":[" + string.Join(",", members.Where(m => m.Required).Select(m => m.Name.ToJsonString())) + "]}";
}
